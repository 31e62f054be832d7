using System.Globalization;
using System.Text;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Benchmarks;

/// <summary>
/// Per-message profile of one measurement, printed after its log line when
/// <c>ZMQASPIRE_BENCH_PROFILE=1</c>: CPU time and times scheduled (wake-ups) per message of the
/// threads of this process, of the helper process (ssh, zmq-tunnel) and of sshd's session
/// processes, from <c>/proc/PID/task/TID/schedstat</c> (CPU) and <c>status</c> (voluntary
/// context switches: a thread that slept and was woken, and the involuntary ones: preempted),
/// with each thread's read-type and write-type system calls (<c>io</c>); and for our in-process tunnel, the
/// relay's counters (<see cref="RelayCounters"/>): local reads, SSH data messages, window adjusts.
/// Each thread's CPU is also given as a share of the measurement's wall-clock time
/// (<c>busy</c>, CPU s / wall s): a thread near 100 % is the one that bounds a stream; that
/// share, unlike CPU per message, depends on what else the machine runs.
/// </summary>
internal sealed class RelayProfile : IDisposable
{
    /// <summary>Every thread seen, by pid/tid: its name, its counters at start (zero for a thread born later) and when last read.</summary>
    private readonly Dictionary<(int Pid, int Tid), ThreadSample> _threads = [];
    private readonly Thread _sampler;
    private readonly ManualResetEventSlim _stop = new();
    private readonly byte[] _buffer = new byte[4096];
    private readonly long[] _counters;
    private readonly int[] _pids;
    private readonly int? _helper;
    private readonly int? _server;
    private readonly System.Diagnostics.Stopwatch _clock;
    private readonly long _allocated;
    private readonly double _helperTotalMs;

    private RelayProfile(int[] pids, int? helper, int? server)
    {
        _pids = pids;
        _helper = helper;
        _server = server;
        Sample(initial: true);
        // Read every 100 ms, so that a thread that ends before Stop (a connection's reader thread
        // ends with the connection, which the workload closes) keeps what it used until then. On a
        // thread of its own (left out of the report), reading into one buffer: a thread-pool timer
        // that read the files with File.ReadAllText added its CPU to the pool's workers and about
        // 25 MB/s of allocations to this process.
        _sampler = new Thread(() =>
        {
            while (!_stop.Wait(100))
            {
                Sample(initial: false);
            }
        })
        { IsBackground = true, Name = SamplerName };
        _sampler.Start();
        _counters = RelayCounters.Snapshot();
        _allocated = GC.GetTotalAllocatedBytes(precise: true);
        _helperTotalMs = ProcessCpuMs(helper);
        _clock = System.Diagnostics.Stopwatch.StartNew();
    }

    private const string SamplerName = "bench-profiler";

    /// <summary>Gets a value indicating whether profiling was asked for (<c>ZMQASPIRE_BENCH_PROFILE=1</c>).</summary>
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("ZMQASPIRE_BENCH_PROFILE") == "1";

    /// <summary>
    /// Starts a profile of this process, <paramref name="helper"/>, <paramref name="sshd"/>'s
    /// sessions and the <paramref name="server"/> process; null when not <see cref="Enabled"/>.
    /// </summary>
    public static RelayProfile? Start(int? helper, int sshd, int? server)
    {
        if (!Enabled)
        {
            return null;
        }

        RelayCounters.Enabled = true;
        int[] pids = [Environment.ProcessId, .. helper is { } h ? [h] : Array.Empty<int>(), .. server is { } s ? [s] : Array.Empty<int>(), .. Proc.Descendants(sshd)];
        return new RelayProfile(pids, helper, server);
    }

    /// <summary>Stops the sampling thread (also when <see cref="Stop"/> was not called: a failed measurement).</summary>
    public void Dispose()
    {
        _stop.Set();
        _sampler.Join();
        _stop.Dispose();
    }

    /// <summary>The profile since <see cref="Start"/>, per message (<paramref name="messages"/> sent one way, warm-up included).</summary>
    public string Stop(long messages)
    {
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - _allocated;
        var wallNs = _clock.Elapsed.TotalNanoseconds;
        _stop.Set();
        _sampler.Join();
        Sample(initial: false);
        var used = new Dictionary<string, (double Ns, long Slices, long Preemptions, long Reads, long Writes)>();
        lock (_threads)
        {
            foreach (var t in _threads.Values)
            {
                var name = t.Name ?? "?";
                var sum = used.GetValueOrDefault(name);
                used[name] = (sum.Ns + t.LastNs - t.FirstNs, sum.Slices + t.LastSlices - t.FirstSlices, sum.Preemptions + t.LastPreemptions - t.FirstPreemptions,
                    sum.Reads + t.LastReads - t.FirstReads, sum.Writes + t.LastWrites - t.FirstWrites);
            }
        }

        var counters = RelayCounters.Snapshot();
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"    per message ({messages:N0} in {wallNs / 1e9:0.00} s): [this process] {allocated / (double)messages:0.#} B allocated;"));
        if (_helper is not null)
        {
            // The whole helper process, threads that ended during the measurement included (a
            // connection's reader thread ends with it); 10 ms clock ticks, so coarse for short runs.
            text.Append(CultureInfo.InvariantCulture, $" [helper: all threads] {(ProcessCpuMs(_helper) - _helperTotalMs) * 1000 / messages:0.00} us CPU;");
        }

        foreach (var (name, (ns, slices, preemptions, reads, writes)) in used.Where(t => !t.Key.EndsWith("/" + SamplerName, StringComparison.Ordinal)).OrderByDescending(t => t.Value.Ns))
        {
            var cpu = ns / 1000.0 / messages;
            if (cpu >= 0.05)
            {
                text.Append(CultureInfo.InvariantCulture, $" [{name}] {cpu:0.00} us CPU ({ns / wallNs:0%} busy), {slices / (double)messages:0.000} wake-ups, {preemptions / (double)messages:0.000} preempted, {reads / (double)messages:0.000} reads, {writes / (double)messages:0.000} writes;");
            }
        }

        var delta = counters.Select((c, i) => c - _counters[i]).ToArray();
        if (delta.Any(d => d != 0))
        {
            text.Append("\n    relay per message:");
            for (var i = 0; i < delta.Length; i++)
            {
                text.Append(CultureInfo.InvariantCulture, $" {(RelayCounter)i} {delta[i] / (double)messages:0.###}");
            }

            var sent = delta[(int)RelayCounter.DataSent];
            var received = delta[(int)RelayCounter.DataReceived];
            text.Append(CultureInfo.InvariantCulture, $"; B per data message out {(sent == 0 ? 0 : delta[(int)RelayCounter.BytesSent] / sent)}, in {(received == 0 ? 0 : delta[(int)RelayCounter.BytesReceived] / received)}");
        }

        return text.ToString();
    }

    /// <summary>CPU time of a whole process in ms (utime + stime of <c>/proc/PID/stat</c>, ended threads included); 0 when unknown.</summary>
    private static double ProcessCpuMs(int? pid)
    {
        try
        {
            if (pid is not { } p)
            {
                return 0;
            }

            // Fields after the command name, which is in parentheses and may contain spaces.
            var stat = File.ReadAllText($"/proc/{p}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return ticks * 10.0; // USER_HZ is 100 on Linux
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>
    /// Reads CPU ns, voluntary context switches (slept and woken) and involuntary ones (preempted)
    /// of every thread of the profiled processes.
    /// Names are process name / thread name, and threads of one name are summed in the report;
    /// the helper's process name gets a <c>helper:</c> prefix, since zmq-tunnel's process is
    /// named <c>dotnet</c> like this one, and the server's a <c>server:</c> one (the NetMQ server
    /// is this executable); sshd's processes carry their pid, so that one session's busy process
    /// is not summed with its monitor or other sessions.
    /// </summary>
    private void Sample(bool initial)
    {
        foreach (var pid in _pids)
        {
            try
            {
                var comm = File.ReadAllText($"/proc/{pid}/comm").Trim();
                var process = pid == _helper ? "helper:" + comm
                    : pid == _server ? "server:" + comm
                    : comm == "sshd" ? string.Create(CultureInfo.InvariantCulture, $"sshd[{pid}]")
                    : comm;
                foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
                {
                    try
                    {
                        var tid = int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture);
                        lock (_threads)
                        {
                            if (!_threads.TryGetValue((pid, tid), out var seen))
                            {
                                seen = new ThreadSample(task, initial);
                                _threads[(pid, tid)] = seen;
                            }

                            // The name is read at the first and the last reading only (a thread may name itself after it starts).
                            if (seen.Name is null || initial || _stop.IsSet)
                            {
                                seen.Name = process + "/" + File.ReadAllText(seen.CommPath).Trim();
                            }

                            var ns = ReadNumber(seen.SchedstatPath, "");
                            var slices = ReadNumber(seen.StatusPath, "voluntary_ctxt_switches:");
                            // Preempted while runnable: by the thread it had just woken, or by other load.
                            var preemptions = ReadNumber(seen.StatusPath, "nonvoluntary_ctxt_switches:");
                            // Read-type and write-type system calls (/proc's io accounting): read(2)/write(2) and
                            // their vector forms, which ssh and sshd use for their sockets, so they tell how many
                            // messages each of their reads or writes carried. recvfrom/sendto (.NET's sockets,
                            // NetMQ, our relay) are not counted there: those threads show 0.
                            var (reads, writes) = ReadIo(seen.IoPath);
                            if (seen.FirstNs < 0)
                            {
                                seen.FirstNs = ns;
                                seen.FirstSlices = slices;
                                seen.FirstPreemptions = preemptions;
                                seen.FirstReads = reads;
                                seen.FirstWrites = writes;
                            }

                            seen.LastNs = ns;
                            seen.LastSlices = slices;
                            seen.LastPreemptions = preemptions;
                            seen.LastReads = reads;
                            seen.LastWrites = writes;
                        }
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
                    {
                        // A thread that ended meanwhile keeps what it had at its last reading.
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A process that ended meanwhile.
            }
        }
    }

    /// <summary>A thread's read-type and write-type system call counts; zeros when <c>io</c> is not readable (another user's process, without root).</summary>
    private (long Reads, long Writes) ReadIo(string path)
    {
        try
        {
            return (ReadNumber(path, "syscr:"), ReadNumber(path, "syscw:"));
        }
        catch (UnauthorizedAccessException)
        {
            return (0, 0);
        }
    }

    /// <summary>
    /// Reads the decimal number that follows <paramref name="label"/> (at the start of a line; an
    /// empty label: the file's first number) into the reused buffer, without allocating.
    /// </summary>
    private long ReadNumber(string path, string label)
    {
        int length;
        using (var handle = File.OpenHandle(path))
        {
            length = RandomAccess.Read(handle, _buffer, 0);
        }

        var text = _buffer.AsSpan(0, length);
        var at = 0;
        if (label.Length > 0)
        {
            Span<byte> needle = stackalloc byte[label.Length + 1];
            needle[0] = (byte)'\n';
            System.Text.Encoding.ASCII.GetBytes(label, needle[1..]);
            at = text.IndexOf(needle);
            if (at < 0)
            {
                throw new FormatException($"{label} not in {path}");
            }

            at += needle.Length;
        }

        while (at < text.Length && (text[at] == ' ' || text[at] == '\t'))
        {
            at++;
        }

        long value = 0;
        while (at < text.Length && text[at] is >= (byte)'0' and <= (byte)'9')
        {
            value = (value * 10) + (text[at++] - '0');
        }

        return value;
    }

    /// <summary>One thread's readings; <see cref="FirstNs"/> is zero for a thread born during the measurement (all its CPU is the measurement's).</summary>
    private sealed class ThreadSample(string task, bool initial)
    {
        public string CommPath { get; } = Path.Combine(task, "comm");

        public string SchedstatPath { get; } = Path.Combine(task, "schedstat");

        public string StatusPath { get; } = Path.Combine(task, "status");

        public string IoPath { get; } = Path.Combine(task, "io");

        public string? Name { get; set; }

        public double FirstNs { get; set; } = initial ? -1 : 0;

        public long FirstSlices { get; set; }

        public double LastNs { get; set; }

        public long LastSlices { get; set; }

        public long FirstPreemptions { get; set; }

        public long LastPreemptions { get; set; }

        public long FirstReads { get; set; }

        public long LastReads { get; set; }

        public long FirstWrites { get; set; }

        public long LastWrites { get; set; }
    }
}
