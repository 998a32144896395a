"""The host's end of the host link: protocol client, byte transports, the simulated serial line."""
