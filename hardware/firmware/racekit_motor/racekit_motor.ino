/*
 * racekit_motor: the car's motor controller for racekit's serial protocol.
 *
 * Board: any Arduino-compatible board with a USB serial port and two PWM
 * pins (Uno, Nano, Pro Micro, RP2040 with the Arduino core...). Wire the
 * steering servo signal to STEERING_PIN and the ESC signal to THROTTLE_PIN,
 * and plug the board into the Raspberry Pi's USB. Then on the Pi:
 *     racekit car drive --controller racekit --serial /dev/ttyACM0 ...
 *
 * The protocol logic (frame parser, CRC, acks, 250 ms watchdog) lives in
 * rk_protocol.cpp, which has no Arduino dependencies and is unit-tested on
 * the host by racekit's test suite; this file only moves bytes and pulses.
 */
#include <Servo.h>

#include "rk_protocol.h"

/* Set these to your car: the pins, and the neutral pulses from your
 * calibration file (steering.center_us and throttle.neutral_us). */
const uint8_t STEERING_PIN = 9;
const uint8_t THROTTLE_PIN = 10;
const uint16_t NEUTRAL_STEERING_US = 1450;
const uint16_t NEUTRAL_THROTTLE_US = 1446;
const unsigned long BAUDRATE = 115200;

Servo steering;
Servo throttle;
rk_controller controller;

static void apply_outputs() {
    /* Servo takes whole microseconds; the quarter is dropped (below a servo's resolution). */
    steering.writeMicroseconds(controller.steering_q / 4);
    throttle.writeMicroseconds(controller.throttle_q / 4);
}

void setup() {
    rk_controller_init(&controller, NEUTRAL_STEERING_US * 4, NEUTRAL_THROTTLE_US * 4);
    /* Attach with the neutral pulse already set, so the ESC arms on neutral. */
    steering.attach(STEERING_PIN);
    throttle.attach(THROTTLE_PIN);
    apply_outputs();
    Serial.begin(BAUDRATE);
}

void loop() {
    uint8_t ack[RK_ACK_LEN];
    while (Serial.available() > 0) {
        size_t n = rk_controller_feed(&controller, (uint8_t)Serial.read(), millis(), ack);
        if (n > 0) {
            apply_outputs();
            Serial.write(ack, n);
        }
    }
    if (rk_controller_poll(&controller, millis())) {
        apply_outputs(); /* the host went quiet for 250 ms: neutral */
    }
}
