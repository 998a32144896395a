"""The host's end of the host link: errors, frame codec, protocol client, byte transports, a board as an engine, the simulated serial line."""
