"""One server process for a whole class: memory budget and admission, the fair work slot, process set-up, janitor."""
