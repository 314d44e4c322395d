/** Line diffs as setup shows them before it changes a file: the config file, an editor's settings. */

/** A line diff (longest common subsequence; config files are small): the changed lines with two lines of context. */
export function lineDiff(before: string, after: string): string {
    const a = before.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n");
    const b = after.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n");
    const dp: number[][] = Array.from({length: a.length + 1}, () => new Array<number>(b.length + 1).fill(0));
    for (let i = a.length - 1; i >= 0; i--)
        for (let j = b.length - 1; j >= 0; j--)
            dp[i]![j] = a[i] === b[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
    const out: string[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
        if (i < a.length && j < b.length && a[i] === b[j]) {
            out.push(`  ${a[i]}`);
            i++;
            j++;
        } else if (i < a.length && (j >= b.length || dp[i + 1]![j]! >= dp[i]![j + 1]!)) out.push(`- ${a[i++]}`);
        else out.push(`+ ${b[j++]}`);
    }
    // Only the changed lines with two lines of context, as a reviewer wants it.
    const keep = new Set<number>();
    out.forEach((l, k) => {
        if (!l.startsWith("  ")) for (let c = k - 2; c <= k + 2; c++) keep.add(c);
    });
    const shown: string[] = [];
    let last = -1;
    for (let k = 0; k < out.length; k++) {
        if (!keep.has(k)) continue;
        if (last >= 0 && k > last + 1) shown.push("  ...");
        shown.push(out[k]!);
        last = k;
    }
    return shown.join("\n");
}
