/**
 * Reused Float32Arrays for the batches a split model stacks per call (several chains' features,
 * 2.3 MB a frame at 256x256): a fresh array of that size per call costs its page faults and
 * zero-fill, more than batching the chains saves (docs/models.md, "Propagation speed"). A buffer
 * is taken for one call and given back after it, so concurrent calls never share one.
 */
export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();

  /** A buffer of exactly `length` floats, contents undefined until written. */
  take(length: number): Float32Array {
    return this.free.get(length)?.pop() ?? new Float32Array(length);
  }

  give(buffer: Float32Array): void {
    const list = this.free.get(buffer.length) ?? [];
    list.push(buffer);
    this.free.set(buffer.length, list);
  }

  /** `parts` end to end in a taken buffer (recorded in `taken`); the only part itself when one. */
  stack(parts: readonly Float32Array[], taken: Float32Array[]): Float32Array {
    if (parts.length === 1) return parts[0];
    const out = this.take(parts.reduce((n, p) => n + p.length, 0));
    taken.push(out);
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }
}
