"""The data model: the specs, observations and results that flow through a run, the Protocols a
third party implements, the errors users read, and how a name on the command line resolves to a
policy or a suite."""
