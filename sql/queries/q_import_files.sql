-- One row per file of every import, newest import first.
select
    import_id,
    file_name,
    table_name,
    rows_read,
    rows_loaded,
    rows_quarantined,
    rows_duplicate,
    content_sha256
from import_files
order by import_id desc, file_name asc
