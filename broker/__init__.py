"""Intentcast's stream processors, topic administration and the local Kafka launcher."""
