"""What a run leaves behind, readable without pytest: JUnit files (read, written, amended
with gates and videos) and episode videos. The plugin writes them, `wamrobust report`
reads them; neither imports the other."""
