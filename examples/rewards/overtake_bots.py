"""Head-to-bot: drive fast, and overtake the bot cars in the other lane.

Bots drive lane lines at objects_speed. The car aims at a target line: the
centre line while no bot is near, the other lane's centre (halfway between the
centre line and the border on the bot's other side) from 1.5 s before it would
reach the bot ahead at the present closing speed, or from 1.5 m behind it however
slow the car is (a race puts a crashed car back at rest 1 m behind the bot), until
the bot is 0.8 m behind.
The reward is speed along the track, scaled by how near the car keeps to the
target line, and by its room beside a bot it is level with (centres within 0.8 m
along the track): a car whose side comes within 0.2 m of a bot's (lane lines
assumed) earns less the nearer it is. The room counts from well before the cars
overlap: in the bench's crashes, cars passing near the centre line, most of them
in a turn at full speed, touched a bot in the lane beside.
Off the track or crashed it earns almost nothing.
"""
import math

WARNING_S = 1.5  # start pulling out this long before reaching the bot ahead
NEAR_M = 1.5  # a bot this near ahead is passed on the other lane whatever the closing speed
CLEAR_BEHIND_M = 0.8  # keep to the other lane until the bot is this far behind
LEVEL_M = 0.8  # a bot whose centre is this near along the track is level with the car (both are 0.32 m long)
TOUCH_M = 0.2  # centre to centre across the track where the sides touch (both are 0.2 m wide)
ROOM_M = 0.2  # side room that earns the full reward


def reward_function(params):
    if params["is_offtrack"] or params["is_crashed"]:
        return 1e-3

    # fast and pointed down the road
    waypoints = params["waypoints"]
    prev, nxt = params["closest_waypoints"]
    dx, dy = waypoints[nxt][0] - waypoints[prev][0], waypoints[nxt][1] - waypoints[prev][1]
    error = abs((math.degrees(math.atan2(dy, dx)) - params["heading"] + 180) % 360 - 180)
    along = params["speed"] / 4.0 * max(0.0, math.cos(math.radians(error)))

    # the target line, and the room beside a bot level with the car: + is left of the centre line
    lane = 0.25 * params["track_width"]
    offset = params["distance_from_center"] * (1 if params["is_left_of_center"] else -1)
    target, room = 0.0, 1.0
    if params["objects_location"]:
        behind, ahead = params["closest_objects"]
        track_length, here = params["track_length"], params["projection_distance"]
        gap_ahead = (params["objects_distance"][ahead] - here) % track_length
        gap_behind = (here - params["objects_distance"][behind]) % track_length
        closing = params["speed"] - params["objects_speed"][ahead]  # m/s; <= 0: not catching up
        near = (ahead if gap_ahead < max(WARNING_S * closing, NEAR_M)
                else behind if gap_behind < CLEAR_BEHIND_M else None)
        if near is not None:
            target = -lane if params["objects_left_of_center"][near] else lane
        for gap, bot in ((gap_ahead, ahead), (gap_behind, behind)):
            if gap < LEVEL_M:
                across = abs(offset - (lane if params["objects_left_of_center"][bot] else -lane))
                room = min(room, max(0.0, (across - TOUCH_M) / ROOM_M))
    on_line = max(0.0, 1.0 - (abs(offset - target) / (2 * lane)) ** 2)  # 1 on the line, 0 a half-width off
    return max(1e-3, along * (0.2 + 0.8 * on_line) * room)
