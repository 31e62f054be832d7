using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using ZmqAspire.Tunneling;

namespace ZmqAspire.TunnelCli;

/// <summary>
/// The command after <c>--</c>, run with the tunnel's local endpoints in its environment and
/// arguments. It inherits zmq-tunnel's terminal (stdin, stdout, stderr) so that an interactive
/// program (python3, a Jupyter console) works as if started directly: that is why this uses
/// <see cref="Process"/> without redirection rather than CliWrap, which always pipes the streams.
/// </summary>
public sealed partial class ChildProcess : IDisposable
{
    private readonly Process _process;

    private ChildProcess(Process process)
    {
        _process = process;
        var exited = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        _process.EnableRaisingEvents = true;
        _process.Exited += (_, _) => exited.TrySetResult(_process.ExitCode);
        if (_process.HasExited)
        {
            exited.TrySetResult(_process.ExitCode);
        }

        Exited = exited.Task;
    }

    /// <summary>Gets a task that completes with the child's exit code (128 + N when signal N killed it).</summary>
    public Task<int> Exited { get; }

    /// <summary>Where util-linux's setpriv is on Linux (Debian: always, it is essential).</summary>
    private const string SetprivPath = "/usr/bin/setpriv";

    /// <summary>
    /// Starts the command. On Linux it is started through <c>setpriv --pdeathsig TERM</c>, which
    /// execs it (no extra process) with a parent-death signal: if zmq-tunnel itself is killed
    /// (SIGKILL, OOM), the kernel sends the child SIGTERM instead of leaving it orphaned, the
    /// failure pyzmq's tunnel processes have. The signal follows the THREAD that forked, so the
    /// child is started from a dedicated thread that lives as long as the child.
    /// </summary>
    /// <param name="command">The program and its arguments, with <c>{endpoint}</c>-style placeholders.</param>
    /// <param name="locals">The local endpoints, one per target in order.</param>
    /// <returns>The running child.</returns>
    /// <exception cref="System.ComponentModel.Win32Exception">The program cannot be found or started.</exception>
    public static ChildProcess Start(IReadOnlyList<string> command, IReadOnlyList<TcpEndpoint> locals)
    {
        var program = Resolve(command[0])
            ?? throw new System.ComponentModel.Win32Exception(2, "No such file or directory (or not executable)");
        var info = new ProcessStartInfo { UseShellExecute = false };
        if (OperatingSystem.IsLinux() && File.Exists(SetprivPath))
        {
            info.FileName = SetprivPath;
            foreach (var word in new[] { "--pdeathsig", "TERM", "--", program })
            {
                info.ArgumentList.Add(word);
            }
        }
        else
        {
            info.FileName = program;
        }

        foreach (var argument in command.Skip(1))
        {
            info.ArgumentList.Add(Substitute(argument, locals));
        }

        foreach (var (name, value) in Environment(locals))
        {
            info.Environment[name] = value;
        }

        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        var parent = new Thread(() =>
        {
            Process process;
            try
            {
                process = Process.Start(info)!;
            }
            catch (Exception ex)
            {
                started.SetException(ex);
                return;
            }

            started.SetResult(process);
            // This thread is the child's parent for PR_SET_PDEATHSIG: it must not end first.
            process.WaitForExit();
        })
        {
            IsBackground = true,
            Name = "zmq-tunnel child parent",
        };
        parent.Start();
        return new ChildProcess(started.Task.GetAwaiter().GetResult());
    }

    /// <summary>Finds the program as execvp would: a path with a slash as it is, else the first executable match in PATH.</summary>
    private static string? Resolve(string program)
    {
        static bool Executable(string path) =>
            File.Exists(path) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0);

        if (program.Contains('/', StringComparison.Ordinal))
        {
            return Executable(program) ? Path.GetFullPath(program) : null;
        }

        return (System.Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(Executable);
    }

    /// <summary>
    /// The variables the child gets: <c>ZMQ_TUNNEL_ENDPOINT</c> and <c>ZMQ_TUNNEL_PORT</c> for the
    /// first target, <c>ZMQ_TUNNEL_ENDPOINT_N</c> and <c>ZMQ_TUNNEL_PORT_N</c> for target N (from 1).
    /// </summary>
    public static IEnumerable<(string Name, string Value)> Environment(IReadOnlyList<TcpEndpoint> locals)
    {
        yield return ("ZMQ_TUNNEL_ENDPOINT", locals[0].ToString());
        yield return ("ZMQ_TUNNEL_PORT", Port(locals[0]));
        for (var i = 0; i < locals.Count; i++)
        {
            var n = (i + 1).ToString(CultureInfo.InvariantCulture);
            yield return ($"ZMQ_TUNNEL_ENDPOINT_{n}", locals[i].ToString());
            yield return ($"ZMQ_TUNNEL_PORT_{n}", Port(locals[i]));
        }
    }

    /// <summary>Replaces <c>{endpoint}</c>, <c>{port}</c> (first target) and <c>{endpointN}</c>, <c>{portN}</c> (target N, from 1).</summary>
    public static string Substitute(string argument, IReadOnlyList<TcpEndpoint> locals)
    {
        // Highest N first, so that {endpoint1} is not read as {endpoint} followed by "1}".
        for (var i = locals.Count - 1; i >= 0; i--)
        {
            var n = (i + 1).ToString(CultureInfo.InvariantCulture);
            argument = argument.Replace($"{{endpoint{n}}}", locals[i].ToString(), StringComparison.Ordinal)
                .Replace($"{{port{n}}}", Port(locals[i]), StringComparison.Ordinal);
        }

        return argument.Replace("{endpoint}", locals[0].ToString(), StringComparison.Ordinal)
            .Replace("{port}", Port(locals[0]), StringComparison.Ordinal);
    }

    /// <summary>
    /// Passes a signal on to the child and waits for it to exit; a child still running after
    /// <paramref name="grace"/> is killed with its descendants.
    /// </summary>
    /// <returns>The child's exit code.</returns>
    public async Task<int> StopAsync(int signal, TimeSpan grace)
    {
        if (!Exited.IsCompleted)
        {
            _ = Kill(_process.Id, signal);
            try
            {
                return await Exited.WaitAsync(grace).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        return await Exited.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void Dispose() => _process.Dispose();

    private static string Port(TcpEndpoint endpoint) => endpoint.Port.ToString(CultureInfo.InvariantCulture);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
