"""What every plugin shares: options, the error guard, the command runner, nagiosplugin glue."""
