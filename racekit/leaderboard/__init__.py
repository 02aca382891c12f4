"""The local leaderboard: an SQLite file of race results, ranked boards, export and a web page.

    db.py         the database file: where it lives, opening (checks, migrations), reading, writing
    migrations.py the schema, one step per version (PRAGMA user_version)
    ranking.py    scores (best lap, best average of N consecutive laps, total) and the boards
    export.py     the results as CSV or JSON
    web.py        the local web page (Starlette) and its server (uvicorn)
"""
