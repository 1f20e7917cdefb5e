-- One row per import, newest first.
select
    import_id,
    started_at,
    finished_at,
    source,
    is_strict,
    data_cutoff_date,
    n_files,
    rows_loaded,
    rows_quarantined,
    rows_duplicate
from import_log
order by import_id desc
