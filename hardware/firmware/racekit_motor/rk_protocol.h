/*
 * racekit motor protocol: frame parser, CRC, acks and the 250 ms watchdog.
 *
 * Plain C-style C++ with no Arduino headers, so the same file is compiled by
 * the Arduino IDE for the car and by g++ on the host for the test suite
 * (tests/test_hardware_firmware.py). Layout: hardware/firmware/PROTOCOL.md.
 */
#ifndef RK_PROTOCOL_H
#define RK_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define RK_START 0xA5           /* first byte of a command frame (host -> controller) */
#define RK_ACK_START 0x5A       /* first byte of an ack (controller -> host) */
#define RK_FRAME_LEN 8
#define RK_ACK_LEN 5
#define RK_STATUS_FAILSAFE 0x01 /* ack status: the watchdog had gone to neutral before this frame */
#define RK_MIN_QUARTER_US 2000  /* 500 us: frames outside 500..2500 us are refused */
#define RK_MAX_QUARTER_US 10000 /* 2500 us */
#define RK_WATCHDOG_MS 250UL    /* neutral when no valid frame has arrived for this long */

/* CRC-16/CCITT-FALSE: poly 0x1021, start with crc = 0xFFFF, no reflection. */
uint16_t rk_crc16(const uint8_t *data, size_t len, uint16_t crc);

typedef struct {
    uint8_t seq;
    uint16_t steering_q; /* quarter-microseconds */
    uint16_t throttle_q;
} rk_command;

typedef struct {
    uint8_t buf[RK_FRAME_LEN];
    uint8_t len;
    uint32_t bad; /* frames refused (bad CRC or pulse out of range) */
} rk_parser;

void rk_parser_init(rk_parser *p);
/* Feed one received byte; returns 1 and fills *out when it completes a valid frame. */
int rk_parser_feed(rk_parser *p, uint8_t byte, rk_command *out);

/* Encoders (the host side; here for tests and for other firmware). Return the length. */
size_t rk_encode_command(uint8_t seq, uint16_t steering_q, uint16_t throttle_q, uint8_t out[RK_FRAME_LEN]);
size_t rk_encode_ack(uint8_t seq, uint8_t status, uint8_t out[RK_ACK_LEN]);

/* Watchdog on a millisecond clock that wraps (Arduino millis() wraps after 49.7 days). */
typedef struct {
    uint32_t last_ms;
    uint8_t fed; /* 0 until the first valid frame: outputs start neutral */
} rk_watchdog;

void rk_watchdog_init(rk_watchdog *w);
void rk_watchdog_feed(rk_watchdog *w, uint32_t now_ms);
int rk_watchdog_expired(const rk_watchdog *w, uint32_t now_ms);

/* The whole controller logic: parser + watchdog + the two outputs. */
typedef struct {
    rk_parser parser;
    rk_watchdog watchdog;
    uint16_t steering_q, throttle_q;                 /* what the outputs should be now */
    uint16_t neutral_steering_q, neutral_throttle_q; /* the failsafe state */
    uint8_t failsafe;                                /* 1 while outputs are neutral because of the watchdog */
} rk_controller;

void rk_controller_init(rk_controller *c, uint16_t neutral_steering_q, uint16_t neutral_throttle_q);
/* Feed one byte received at now_ms. When it completes a valid frame the outputs
 * change and the ack to send is written to ack[]: returns its length, else 0. */
size_t rk_controller_feed(rk_controller *c, uint8_t byte, uint32_t now_ms, uint8_t ack[RK_ACK_LEN]);
/* Call every loop pass; returns 1 when it has just switched the outputs to neutral. */
int rk_controller_poll(rk_controller *c, uint32_t now_ms);

#endif
