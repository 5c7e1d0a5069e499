"""Who may do what on Kafka: the grants of docs/events.md "ACLs", applied to a broker or written as KafkaUsers."""
