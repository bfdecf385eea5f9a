"""Pure translation and validation: code tables as data files, no I/O beyond reading them."""
