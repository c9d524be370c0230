/*
 * Tidemark test broker: a librdkafka mock cluster in its own process.
 *
 * Usage: mock-cluster [--brokers N] TOPIC:PARTITIONS [TOPIC:PARTITIONS ...]
 *
 * Creates a mock cluster of N brokers (default 1) listening on loopback, creates each topic with its partition
 * count (replication factor min(N, 3)), prints the bootstrap servers ("host:port,host:port") as the first line of
 * stdout, then runs until stdin reaches end of file or the process gets SIGTERM, SIGINT or SIGHUP.
 * Diagnostics go to stderr; the exit code is 0 after a clean stop, 2 for bad arguments, 1 for anything else.
 *
 * Build: cc -O2 -o mock-cluster mock-cluster.c -lrdkafka
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int signo) {
        (void)signo;
        stop_requested = 1;
}

static void usage(void) {
        fprintf(stderr, "usage: mock-cluster [--brokers N] TOPIC:PARTITIONS [TOPIC:PARTITIONS ...]\n");
}

/* Parses a whole positive decimal number no larger than max; returns -1 otherwise. */
static long parse_count(const char *text, long max) {
        char *end = NULL;
        long value;
        if (text == NULL || *text == '\0')
                return -1;
        errno = 0;
        value = strtol(text, &end, 10);
        if (errno != 0 || *end != '\0' || value < 1 || value > max)
                return -1;
        return value;
}

int main(int argc, char **argv) {
        char errstr[512];
        long brokers = 1;
        int first_topic = 1;
        int i;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mcluster;
        struct sigaction action;
        sigset_t stop_signals, wait_mask, pending;

        if (argc >= 2 && strcmp(argv[1], "--brokers") == 0) {
                brokers = argc >= 3 ? parse_count(argv[2], 16) : -1;
                if (brokers < 0) {
                        fprintf(stderr, "mock-cluster: --brokers needs a number from 1 to 16\n");
                        usage();
                        return 2;
                }
                first_topic = 3;
        }
        if (first_topic >= argc) {
                fprintf(stderr, "mock-cluster: give at least one TOPIC:PARTITIONS\n");
                usage();
                return 2;
        }
        /* Check every argument before starting anything. */
        for (i = first_topic; i < argc; i++) {
                const char *colon = strrchr(argv[i], ':');
                if (colon == NULL || colon == argv[i] || parse_count(colon + 1, 100000) < 0) {
                        fprintf(stderr, "mock-cluster: \"%s\" is not TOPIC:PARTITIONS (PARTITIONS from 1 to 100000)\n",
                                argv[i]);
                        usage();
                        return 2;
                }
        }

        /*
         * The stop signals stay blocked except inside ppoll, so one arriving between the flag check and the wait is
         * never missed. librdkafka's threads, created below, inherit the mask and so never take them either.
         */
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGHUP);
        sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask);
        sigdelset(&wait_mask, SIGTERM);
        sigdelset(&wait_mask, SIGINT);
        sigdelset(&wait_mask, SIGHUP);
        memset(&action, 0, sizeof(action));
        action.sa_handler = on_signal;
        sigemptyset(&action.sa_mask);
        sigaction(SIGTERM, &action, NULL);
        sigaction(SIGINT, &action, NULL);
        sigaction(SIGHUP, &action, NULL);
        signal(SIGPIPE, SIG_IGN);

        /* The mock cluster needs an rd_kafka_t for its bookkeeping; a producer with no bootstrap servers does. */
        conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "mock-cluster: %s\n", errstr);
                return 1;
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (rk == NULL) {
                fprintf(stderr, "mock-cluster: cannot create the librdkafka handle: %s\n", errstr);
                return 1;
        }
        mcluster = rd_kafka_mock_cluster_new(rk, (int)brokers);
        if (mcluster == NULL) {
                fprintf(stderr, "mock-cluster: cannot create the mock cluster\n");
                rd_kafka_destroy(rk);
                return 1;
        }

        for (i = first_topic; i < argc; i++) {
                char *spec = strdup(argv[i]);
                char *colon = strrchr(spec, ':');
                int partitions = (int)parse_count(colon + 1, 100000);
                int replication = brokers < 3 ? (int)brokers : 3;
                rd_kafka_resp_err_t err;
                *colon = '\0';
                err = rd_kafka_mock_topic_create(mcluster, spec, partitions, replication);
                if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                        fprintf(stderr, "mock-cluster: cannot create topic \"%s\": %s\n", spec, rd_kafka_err2str(err));
                        free(spec);
                        rd_kafka_mock_cluster_destroy(mcluster);
                        rd_kafka_destroy(rk);
                        return 1;
                }
                free(spec);
        }

        printf("%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
        fflush(stdout);

        /* Serve until stdin closes (the parent went away) or a stop signal arrives. */
        while (!stop_requested) {
                struct pollfd input = {.fd = STDIN_FILENO, .events = POLLIN};
                char buffer[256];
                ssize_t n;
                int ready = ppoll(&input, 1, NULL, &wait_mask);
                if (ready < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (input.revents & (POLLERR | POLLNVAL))
                        break;
                n = read(STDIN_FILENO, buffer, sizeof(buffer));
                if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
                        break;
                /* ppoll returning data leaves a stop signal pending rather than delivered: look for one. */
                if (sigpending(&pending) == 0 &&
                    (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT) || sigismember(&pending, SIGHUP)))
                        break;
        }

        rd_kafka_mock_cluster_destroy(mcluster);
        rd_kafka_destroy(rk);
        return 0;
}
