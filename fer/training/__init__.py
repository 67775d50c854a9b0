"""How a model trains beyond the loop itself: fine-tuning strategies (finetune.py), starting from another run
(transfer.py) and a teacher's soft targets (distill.py)."""
