/* kafka.c — Kafka mode. (Being written.) */
