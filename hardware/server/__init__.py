"""The car service: flash models to the car over the local network, start and stop it.

`racekit car serve` runs it on the Raspberry Pi; `racekit flash` and
`racekit car status|stop` talk to it from the laptop. Modules, one concern each:
  auth        the access token: made on first start, kept only as a hash, checked in constant time
  store       the model store under the data directory: uploads, activation, rollback
  runner      the drive loop (hardware/service.py's drive()) in a thread, its status, stop, e-stop
  camera_view a camera shared by the loop and the live MJPEG view
  sensors     the car's sensors (camera or stereo pair, LIDAR): the models it can drive, what status shows
  app         the HTTP routes (Starlette)
  serve       `racekit car serve`: the data directory, the token, uvicorn
  client      the laptop's side of the HTTP API, standard library only
  static/     the console page (plain HTML, CSS, JS)

This package imports no more than the rest of hardware/ does, plus Starlette
and uvicorn in app and serve (the `car` extra); client needs only the
standard library, so the laptop commands stay light.
"""
