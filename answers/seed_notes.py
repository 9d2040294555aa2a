"""Inconsistencies in the seeds that the key flags beside the parts they touch (seed 004, Lesson 19).

Each note says what the seed writes, what is true, and by how much they differ; the key's value does
not change for them. Figures are exact counts by peftcalc (``peftcalc lora --model llama-2-7b …``).
"""

from __future__ import annotations

_MERGE = ("Seed 004 §2's LinearWithLoRA.merge_weights adds B·A·scaling into linear.weight but forward() still "
          "adds self.lora(x): after merging, the output counts ΔW twice (merge must switch the LoRA path off, or "
          "forward must skip it once merged). The same listing calls math.sqrt(5) without `import math`.")
_SECTIONS = ("Seed 004 disagrees with itself on LoRA r=8: §1.1's box says \"~0.1 %\" trainable and \"~100MB\" "
             "extra memory, §6.1's table \"0.06 %\" and \"~200MB\". q,v at r=8 on a 7B Llama is 4,194,304 "
             "parameters = 0.0599 % of 7B (0.0622 % of Llama-2-7B's 6.74B), 16.8 MB in fp32.")
_QLORA = ("Seed 004 §6.1 lists \"QLoRA (r=64) ~30M\", but the lesson's own setup_qlora(rank=64) targets all seven "
          "projections (q, k, v, o, gate, up, down): 159,907,840 trainable parameters on Llama-2-7B, 5.3× the "
          "table's figure (~30M is r=64 on q, v only: 33,554,432).")
_TRANSPOSED = ("Exercise 1 writes \"W_A (d x r) and W_B (r x d)\": transposed against the LoRA convention "
               "(Hu et al. 2021; and seed 004's own LoRALayer), where A is r×k and B is d×r, ΔW = BA. The count, "
               "r·(d + k) per matrix, is the same either way.")
_IA3 = ("Seed 004's IA3Layer(dim) learns three vectors of size dim (l_k, l_v, l_ff): 3·d per layer, 393,216 for "
        "d = 4096 and 32 layers — but real IA³ scales the feed-forward's input (d_ff = 11,008 on Llama-2-7B), so "
        "peft trains 614,400; the table's \"~300K\" matches neither.")

NOTES: dict[str, tuple[str, ...]] = {
    "19.4.merge_formula": (_MERGE,),
    "19.1.lora_r8_params": (_TRANSPOSED,),
    "19.1.lora_r8_percent_of_model": (_SECTIONS,),
    "seed004.table.lora_r8": (_SECTIONS,),
    "seed004.table.lora_r64": (_QLORA,),
    "seed004.table.ia3": (_IA3,),
}
