"""One replication of the service: demand, the pathway a referral follows, the workforce and policies over time."""

from simservice.model.service import Service, simulate

__all__ = ["Service", "simulate"]
