"""Plugin front ends: options -> source -> parser -> rules -> nagiosplugin output."""
