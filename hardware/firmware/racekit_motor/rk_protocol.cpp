/* racekit motor protocol: see rk_protocol.h and ../PROTOCOL.md. No Arduino headers here. */
#include "rk_protocol.h"

#include <string.h>

uint16_t rk_crc16(const uint8_t *data, size_t len, uint16_t crc) {
    /* Bitwise rather than a table: 512 bytes of table is a lot of an ATmega328's 2 KB RAM. */
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)data[i] << 8;
        for (uint8_t bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

static uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static void put_le16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xFF);
    p[1] = (uint8_t)(v >> 8);
}

void rk_parser_init(rk_parser *p) {
    p->len = 0;
    p->bad = 0;
}

static int in_range(uint16_t q) { return q >= RK_MIN_QUARTER_US && q <= RK_MAX_QUARTER_US; }

int rk_parser_feed(rk_parser *p, uint8_t byte, rk_command *out) {
    if (p->len == 0 && byte != RK_START) return 0; /* between frames: wait for a start byte */
    p->buf[p->len++] = byte;
    if (p->len < RK_FRAME_LEN) return 0;

    rk_command cmd;
    cmd.seq = p->buf[1];
    cmd.steering_q = get_le16(p->buf + 2);
    cmd.throttle_q = get_le16(p->buf + 4);
    uint16_t crc = get_le16(p->buf + 6);
    if (rk_crc16(p->buf, RK_FRAME_LEN - 2, 0xFFFF) == crc && in_range(cmd.steering_q) && in_range(cmd.throttle_q)) {
        p->len = 0;
        *out = cmd;
        return 1;
    }
    /* Bad frame: drop only its first byte and rescan, because the real start
     * byte of the next frame may be inside what we took for this one. */
    p->bad++;
    uint8_t next = 1;
    while (next < RK_FRAME_LEN && p->buf[next] != RK_START) next++;
    p->len = (uint8_t)(RK_FRAME_LEN - next);
    memmove(p->buf, p->buf + next, p->len);
    return 0;
}

size_t rk_encode_command(uint8_t seq, uint16_t steering_q, uint16_t throttle_q, uint8_t out[RK_FRAME_LEN]) {
    out[0] = RK_START;
    out[1] = seq;
    put_le16(out + 2, steering_q);
    put_le16(out + 4, throttle_q);
    put_le16(out + 6, rk_crc16(out, RK_FRAME_LEN - 2, 0xFFFF));
    return RK_FRAME_LEN;
}

size_t rk_encode_ack(uint8_t seq, uint8_t status, uint8_t out[RK_ACK_LEN]) {
    out[0] = RK_ACK_START;
    out[1] = seq;
    out[2] = status;
    put_le16(out + 3, rk_crc16(out, RK_ACK_LEN - 2, 0xFFFF));
    return RK_ACK_LEN;
}

void rk_watchdog_init(rk_watchdog *w) {
    w->last_ms = 0;
    w->fed = 0;
}

void rk_watchdog_feed(rk_watchdog *w, uint32_t now_ms) {
    w->last_ms = now_ms;
    w->fed = 1;
}

int rk_watchdog_expired(const rk_watchdog *w, uint32_t now_ms) {
    /* Unsigned subtraction is correct across the millis() wrap-around. */
    return !w->fed || (uint32_t)(now_ms - w->last_ms) >= RK_WATCHDOG_MS;
}

void rk_controller_init(rk_controller *c, uint16_t neutral_steering_q, uint16_t neutral_throttle_q) {
    rk_parser_init(&c->parser);
    rk_watchdog_init(&c->watchdog);
    c->neutral_steering_q = neutral_steering_q;
    c->neutral_throttle_q = neutral_throttle_q;
    c->steering_q = neutral_steering_q;
    c->throttle_q = neutral_throttle_q;
    c->failsafe = 1; /* at power-up nothing has been commanded yet */
}

size_t rk_controller_feed(rk_controller *c, uint8_t byte, uint32_t now_ms, uint8_t ack[RK_ACK_LEN]) {
    rk_command cmd;
    if (!rk_parser_feed(&c->parser, byte, &cmd)) return 0;
    uint8_t status = c->failsafe ? RK_STATUS_FAILSAFE : 0;
    c->steering_q = cmd.steering_q;
    c->throttle_q = cmd.throttle_q;
    c->failsafe = 0;
    rk_watchdog_feed(&c->watchdog, now_ms);
    return rk_encode_ack(cmd.seq, status, ack);
}

int rk_controller_poll(rk_controller *c, uint32_t now_ms) {
    if (c->failsafe || !rk_watchdog_expired(&c->watchdog, now_ms)) return 0;
    c->failsafe = 1;
    c->steering_q = c->neutral_steering_q;
    c->throttle_q = c->neutral_throttle_q;
    return 1;
}
