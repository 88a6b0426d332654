/** A binary min-heap by `key`; items compare by key, then by insertion order. */
export const minHeap = <T>(key: (item: T) => number) => {
  const items: { item: T; key: number; order: number }[] = [];
  let counter = 0;
  const less = (a: number, b: number): boolean => items[a]!.key < items[b]!.key || (items[a]!.key === items[b]!.key && items[a]!.order < items[b]!.order);
  const swap = (a: number, b: number): void => {
    [items[a], items[b]] = [items[b]!, items[a]!];
  };
  return {
    push(item: T): void {
      items.push({ item, key: key(item), order: counter++ });
      for (let i = items.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!less(i, parent)) break;
        swap(i, parent);
        i = parent;
      }
    },
    pop(): T | undefined {
      if (items.length === 0) return undefined;
      const top = items[0]!.item;
      const last = items.pop()!;
      if (items.length > 0) {
        items[0] = last;
        for (let i = 0; ; ) {
          const [left, right] = [2 * i + 1, 2 * i + 2];
          let smallest = i;
          if (left < items.length && less(left, smallest)) smallest = left;
          if (right < items.length && less(right, smallest)) smallest = right;
          if (smallest === i) break;
          swap(i, smallest);
          i = smallest;
        }
      }
      return top;
    },
    peek: (): T | undefined => items[0]?.item,
    size: (): number => items.length,
  };
};
