"""The course's assignments, one self-contained package each; they share only ``common``."""
