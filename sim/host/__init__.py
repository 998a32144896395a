"""The host end of the host link: client, frames, errors, transports, board engine, simulated line."""
