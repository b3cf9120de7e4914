"""What a job records and how it reads on the phone: options, progress, view, endings. No I/O."""
