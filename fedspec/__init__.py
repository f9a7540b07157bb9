"""fedspec: the command-line tool."""
