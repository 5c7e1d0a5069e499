"""Photos and attachments as real files: the image checks (`images`), what EXIF tells (`exif`), where the
files are kept (`storage`: the local disk, or an S3-compatible object store in `s3`)."""
