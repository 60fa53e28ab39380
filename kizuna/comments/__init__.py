"""Readers' comments: running Isso, moderating, exporting and backing up."""
