"""The harness core: data types, axes, episode runner, statistics and gates. No pytest here."""
