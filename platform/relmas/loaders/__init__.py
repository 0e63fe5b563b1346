"""File I/O for relmas: everything that reads the disk lives here, so the core stays pure."""
