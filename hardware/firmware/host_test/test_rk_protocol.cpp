/*
 * Host-side tests of the firmware's protocol logic (rk_protocol.cpp), built
 * and run by tests/test_hardware_firmware.py with g++:
 *
 *   test_rk_protocol selftest   unit tests; prints "ok N checks" or the failures, exit 1 on failure
 *   test_rk_protocol parse      reads bytes on stdin, prints "frame SEQ STEERING_Q THROTTLE_Q"
 *                               per accepted frame, then "bad N" (cross-check with the Python driver)
 */
#include <stdio.h>
#include <string.h>

#include "../racekit_motor/rk_protocol.h"

static int checks = 0, failures = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        checks++;                                                            \
        if (!(cond)) {                                                       \
            failures++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                    \
    } while (0)

/* Feed bytes; returns how many frames were accepted, the last in *last. */
static int feed_all(rk_parser *p, const uint8_t *data, size_t n, rk_command *last) {
    int frames = 0;
    for (size_t i = 0; i < n; i++) {
        if (rk_parser_feed(p, data[i], last)) frames++;
    }
    return frames;
}

static void test_crc(void) {
    const uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    CHECK(rk_crc16(check, sizeof check, 0xFFFF) == 0x29B1); /* the catalogue check value */
}

static void test_valid_frame(void) {
    rk_parser p;
    rk_parser_init(&p);
    uint8_t f[RK_FRAME_LEN];
    rk_encode_command(7, 1700 * 4, 1311 * 4 + 2, f);
    rk_command c;
    CHECK(feed_all(&p, f, sizeof f, &c) == 1);
    CHECK(c.seq == 7 && c.steering_q == 6800 && c.throttle_q == 5246);
    CHECK(p.bad == 0);
}

static void test_bad_crc_ignored(void) {
    rk_parser p;
    rk_parser_init(&p);
    uint8_t f[RK_FRAME_LEN];
    rk_encode_command(1, 6000, 6000, f);
    f[3] ^= 0x01; /* one flipped bit in the steering pulse */
    rk_command c;
    CHECK(feed_all(&p, f, sizeof f, &c) == 0);
    CHECK(p.bad == 1);
    rk_encode_command(2, 5800, 5784, f);
    CHECK(feed_all(&p, f, sizeof f, &c) == 1 && c.seq == 2 && c.steering_q == 5800);
}

static void test_out_of_range_refused(void) {
    rk_parser p;
    rk_parser_init(&p);
    uint8_t f[RK_FRAME_LEN];
    rk_command c;
    rk_encode_command(1, 1999, 6000, f); /* 499.75 us: below the servo range */
    CHECK(feed_all(&p, f, sizeof f, &c) == 0);
    rk_encode_command(1, 6000, 10001, f);
    CHECK(feed_all(&p, f, sizeof f, &c) == 0);
    CHECK(p.bad == 2);
}

static void test_resync_after_garbage(void) {
    rk_parser p;
    rk_parser_init(&p);
    /* Garbage with false start bytes, then a frame whose own payload holds 0xA5. */
    uint8_t stream[64];
    size_t n = 0;
    const uint8_t junk[] = {0x00, 0xA5, 0xA5, 0x13, 0xFF, 0xA5, 0x01, 0x02, 0x03};
    memcpy(stream, junk, sizeof junk);
    n += sizeof junk;
    n += rk_encode_command(0xA5, 0x17A5, 0x16A5, stream + n);
    n += rk_encode_command(9, 6000, 5784, stream + n);
    rk_command c;
    rk_command got[2];
    int frames = 0;
    for (size_t i = 0; i < n; i++) {
        if (rk_parser_feed(&p, stream[i], &c)) {
            if (frames < 2) got[frames] = c;
            frames++;
        }
    }
    CHECK(frames == 2);
    CHECK(got[0].seq == 0xA5 && got[0].steering_q == 0x17A5 && got[0].throttle_q == 0x16A5);
    CHECK(got[1].seq == 9);
    CHECK(p.bad >= 1);
    /* A frame cut short by a new frame: the second still parses. */
    rk_parser_init(&p);
    uint8_t a[RK_FRAME_LEN], b[RK_FRAME_LEN];
    rk_encode_command(1, 6000, 6000, a);
    rk_encode_command(2, 6100, 5900, b);
    CHECK(feed_all(&p, a, 5, &c) == 0);
    CHECK(feed_all(&p, b, sizeof b, &c) == 1 && c.seq == 2);
}

static void test_watchdog(void) {
    rk_controller ctl;
    rk_controller_init(&ctl, 1450 * 4, 1446 * 4);
    CHECK(ctl.failsafe == 1 && ctl.steering_q == 5800 && ctl.throttle_q == 5784);
    uint8_t f[RK_FRAME_LEN], ack[RK_ACK_LEN];
    rk_encode_command(3, 1700 * 4, 1400 * 4, f);
    size_t n = 0;
    for (size_t i = 0; i < sizeof f; i++) n = rk_controller_feed(&ctl, f[i], 1000, ack);
    CHECK(n == RK_ACK_LEN && ack[0] == RK_ACK_START && ack[1] == 3);
    CHECK(ack[2] == RK_STATUS_FAILSAFE); /* first frame after power-up reports the failsafe state */
    CHECK(rk_crc16(ack, 3, 0xFFFF) == (uint16_t)(ack[3] | (ack[4] << 8)));
    CHECK(ctl.steering_q == 6800 && ctl.throttle_q == 5600 && ctl.failsafe == 0);
    CHECK(rk_controller_poll(&ctl, 1249) == 0 && ctl.throttle_q == 5600);
    CHECK(rk_controller_poll(&ctl, 1250) == 1);
    CHECK(ctl.steering_q == 5800 && ctl.throttle_q == 5784 && ctl.failsafe == 1);
    CHECK(rk_controller_poll(&ctl, 1300) == 0); /* reports the switch once */
    /* A bad-CRC frame does not feed the watchdog. */
    rk_controller_init(&ctl, 5800, 5784);
    for (size_t i = 0; i < sizeof f; i++) rk_controller_feed(&ctl, f[i], 2000, ack);
    uint8_t bad[RK_FRAME_LEN];
    rk_encode_command(4, 6800, 5600, bad);
    bad[7] ^= 0x80;
    size_t acked = 0;
    for (size_t i = 0; i < sizeof bad; i++) acked += rk_controller_feed(&ctl, bad[i], 2200, ack);
    CHECK(acked == 0);
    CHECK(rk_controller_poll(&ctl, 2250) == 1); /* 250 ms after the last *valid* frame */
    /* millis() wrap-around: 100 ms across the wrap is not 250 ms. */
    rk_controller_init(&ctl, 5800, 5784);
    uint32_t t = 0xFFFFFFC0UL;
    for (size_t i = 0; i < sizeof f; i++) rk_controller_feed(&ctl, f[i], t, ack);
    CHECK(rk_controller_poll(&ctl, t + 100) == 0);
    CHECK(rk_controller_poll(&ctl, t + 250) == 1);
}

static int selftest(void) {
    test_crc();
    test_valid_frame();
    test_bad_crc_ignored();
    test_out_of_range_refused();
    test_resync_after_garbage();
    test_watchdog();
    if (failures) {
        printf("FAILED %d of %d checks\n", failures, checks);
        return 1;
    }
    printf("ok %d checks\n", checks);
    return 0;
}

static int parse_stdin(void) {
    rk_parser p;
    rk_parser_init(&p);
    rk_command c;
    int ch;
    while ((ch = getchar()) != EOF) {
        if (rk_parser_feed(&p, (uint8_t)ch, &c)) printf("frame %u %u %u\n", c.seq, c.steering_q, c.throttle_q);
    }
    printf("bad %lu\n", (unsigned long)p.bad);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "selftest") == 0) return selftest();
    if (argc == 2 && strcmp(argv[1], "parse") == 0) return parse_stdin();
    fprintf(stderr, "usage: %s selftest|parse\n", argv[0]);
    return 2;
}
