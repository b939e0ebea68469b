// How many instructions vCPU 0 (the kernel worker's own) runs between two
// looks at the vCPU workers' mailboxes while workers run threads.
//
// Contract: `next` is the budget of vCPU 0's next run; `ran(ms)` after a run
// that spent its whole budget in `ms` doubles it when that run was shorter
// than half of `targetMs` and halves it when longer than twice that, never
// outside [min, max]. So runs last about `targetMs` whatever tier the thread
// runs in: a fixed 20 000 instructions were ~0.2 ms of tier 0 but 7-10 µs of
// a tier-2 loop, and the look after every such run (the mailboxes, the
// slice's clock, the run's entry and exit) slowed vCPU 0's thread by 10-15%
// against a worker's (src/kernel/README.md, "vCPU 0's runs while workers run").

export class LookBudget {
  next: number;

  constructor(
    readonly min: number,
    readonly max: number,
    readonly targetMs: number,
  ) {
    this.next = min;
  }

  ran(ms: number): void {
    if (ms < this.targetMs / 2) this.next = Math.min(this.next * 2, this.max);
    else if (ms > this.targetMs * 2) this.next = Math.max(this.next / 2, this.min);
  }
}
