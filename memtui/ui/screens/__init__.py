"""The app's screens: the monitor, its dialogs, help and the snapshot list."""
