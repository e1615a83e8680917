"""openpi's websocket policy protocol: a client adapter (`--policy=ws://...`, presets
pi0 / pi05 / pi0-fast) and a server (`wamrobust serve`) that speaks the same wire format.

Submodules import websockets and msgpack only when used, so the plugin stays light.
"""
