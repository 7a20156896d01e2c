"""What a run leaves behind: the record (record), the folder it is written to (folder) and
its self-contained HTML report (report)."""
