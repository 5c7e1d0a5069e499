"""Real Kafka and PostgreSQL on loopback, started and stopped by the project itself (no Docker needed)."""
