"""simservice: a discrete-event simulation of children's social care assessment capacity."""

__version__ = "0.1.0"
