"""`racekit console`: DeepRacer's workflow in a local browser page, over the runs folder and `racekit` commands."""
