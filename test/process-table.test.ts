/**
 * `top` of a vm container: the guest's processes in `ps -ef`'s table
 * (src/containers/ops/process-table.ts). No guest: the table from fixed
 * /proc figures.
 */
import { it } from "node:test";
import assert from "node:assert/strict";
import { cpuTime, processTable, ttyName } from "../src/containers/ops/process-table.js";

it("ps -ef's columns from /proc figures: users by name, ttys, cpu time, start of day", () => {
  const now = new Date(2026, 11, 3, 10, 30).getTime();
  const lines = processTable(
    {
      uptimeTicks: 500_000,
      processes: [
        { pid: 1, ppid: 0, uid: 100000, tty: 0, cpuTicks: 250, startTicks: 490_000, cmd: "sh -c sleep 600" },
        { pid: 12, ppid: 1, uid: 101000, tty: (136 << 8) | 3, cpuTicks: 0, startTicks: 499_000, cmd: "[sleep]" },
      ],
    },
    new Map([[0, "root"]]),
    (uid) => uid - 100000,
    now,
  );
  assert.deepEqual(lines, [
    "UID  PID PPID C STIME TTY       TIME CMD",
    "root   1    0 2 10:28 ?     00:00:02 sh -c sleep 600",
    "1000  12    1 0 10:29 pts/3 00:00:00 [sleep]",
  ]);
  assert.deepEqual([ttyName((4 << 8) | 2), ttyName((5 << 8) | 1), ttyName((136 << 8) | 0 | (1 << 20))], ["tty2", "console", "pts/256"]);
  assert.deepEqual([cpuTime(100 * 3725), cpuTime(100 * (86400 * 2 + 61))], ["01:02:05", "2-00:01:01"]);
});
