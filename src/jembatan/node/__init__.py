"""The node itself: its identity row, its data folder, start-up and the dashboard."""
