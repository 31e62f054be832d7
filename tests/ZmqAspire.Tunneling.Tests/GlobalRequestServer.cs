using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// A real SSH server other than OpenSSH: asyncssh (Debian's python3-asyncssh) running
/// AsyncSsh/global_request_server.py on 127.0.0.1, with a host key and a client key made for this
/// run (never committed). It serves a local forward to <see cref="Target"/> itself: each line the
/// client sends is answered with <see cref="Answer"/> and an SSH_MSG_GLOBAL_REQUEST in the same TCP
/// segment, something OpenSSH's sshd never sends while a channel is open.
/// </summary>
internal sealed class GlobalRequestServer : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory;
    private readonly string _clientKeyPath;
    private readonly StringBuilder _output = new();
    private readonly Process _process;

    private GlobalRequestServer()
    {
        // 0700 on Unix (CreateTempSubdirectory's mode there): the keys are this run's alone.
        _directory = Directory.CreateTempSubdirectory("zmqaspire-asyncssh-").FullName;
        var hostKeyPath = SshKeygen.Generate(Path.Combine(_directory, "ssh_host_ed25519_key"), "ed25519", null, string.Empty, "zmqaspire-test asyncssh host");
        HostKeyFingerprint = SshKeygen.Fingerprint(hostKeyPath + ".pub");
        _clientKeyPath = SshKeygen.Generate(Path.Combine(_directory, "id_ed25519"), "ed25519", null, string.Empty, "zmqaspire-test asyncssh client");
        var authorizedKeys = Path.Combine(_directory, "authorized_keys");
        File.Copy(_clientKeyPath + ".pub", authorizedKeys);

        var info = new ProcessStartInfo("/usr/bin/python3");
        info.ArgumentList.Add("-u");
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AsyncSsh", "global_request_server.py"));
        info.ArgumentList.Add(hostKeyPath);
        info.ArgumentList.Add(authorizedKeys);
        info.ArgumentList.Add(Target.Host);
        info.ArgumentList.Add(Target.Port.ToString(CultureInfo.InvariantCulture));
        _process = ProcessRunner.StartCapturing(info, _output);
    }

    /// <summary>Gets what the server sends for each line, before its global request: 64 B, 0 to 63.</summary>
    public static byte[] Answer { get; } = [.. Enumerable.Range(0, 64).Select(i => (byte)i)];

    /// <summary>Gets the one forward target the server accepts (and serves itself: nothing is connected there).</summary>
    public static TcpEndpoint Target { get; } = new("127.0.0.1", 5555);

    /// <summary>Gets the host key's SHA-256 fingerprint, from ssh-keygen.</summary>
    public string HostKeyFingerprint { get; }

    /// <summary>Gets the port the server listens on, on 127.0.0.1.</summary>
    public int Port { get; private set; }

    /// <summary>Gets what the server printed so far, for assertion messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the server and waits until it listens.</summary>
    /// <exception cref="TimeoutException">It printed no port in time (the message carries its output).</exception>
    /// <exception cref="InvalidOperationException">It exited first (python3-asyncssh missing, a bad key; the message carries its output).</exception>
    public static async Task<GlobalRequestServer> StartAsync()
    {
        var server = new GlobalRequestServer();
        try
        {
            server.Port = await server.ListeningPortAsync();
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>Options that log in with this run's client key and pin the server's host key.</summary>
    public SshTunnelOptions Options() => new()
    {
        Server = new SshServerAddress("zmqaspire-test", "127.0.0.1", Port),
        HostKey = HostKeyPolicy.Pinned(HostKeyFingerprint),
        PrivateKeyPath = _clientKeyPath,
        ConnectTimeout = TimeSpan.FromSeconds(20),
    };

    public void Dispose()
    {
        ProcessRunner.Stop(_process);
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Leave it for the OS temp cleaner.
        }
    }

    private async Task<int> ListeningPortAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < StartTimeout && !_process.HasExited)
        {
            var line = Output.Split('\n').FirstOrDefault(l => l.StartsWith("listening ", StringComparison.Ordinal));
            if (line is not null)
            {
                return int.Parse(line["listening ".Length..].Trim(), CultureInfo.InvariantCulture);
            }

            await Task.Delay(50);
        }

        throw _process.HasExited
            ? new InvalidOperationException($"global_request_server.py exited with {_process.ExitCode} before it listened: {Output}")
            : new TimeoutException($"global_request_server.py did not listen within {StartTimeout.TotalSeconds} s: {Output}");
    }
}
