namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// A throw-away home for a pyzmq client: ~/.ssh/known_hosts (paramiko reads it through HOME), an
/// OpenSSH config with strict host key checking, and an <c>ssh</c> wrapper first on PATH that
/// passes that config (ssh reads its config from the passwd home, not HOME, and pyzmq adds no -F).
/// </summary>
internal sealed class ClientHome : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("zmqaspire-pyhome-").FullName;

    /// <param name="project">The deployment.</param>
    /// <param name="trustedHostKey">The public key known_hosts gives the bastion; null: an empty known_hosts.</param>
    public ClientHome(ComposeProject project, string? trustedHostKey)
    {
        var ssh = Directory.CreateDirectory(Path.Combine(_root, ".ssh")).FullName;
        var knownHosts = Path.Combine(ssh, "known_hosts");
        var key = trustedHostKey?.Split(' ');
        File.WriteAllText(knownHosts, key is null ? string.Empty : $"[127.0.0.1]:{project.SshPort} {key[0]} {key[1]}\n");

        // The client key, 0600 and ours: OpenSSH refuses a private key others may read.
        KeyFile = Path.Combine(ssh, "id_client");
        File.Copy(project.ClientKeyPath, KeyFile);
        File.SetUnixFileMode(KeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var config = Path.Combine(ssh, "config");
        File.WriteAllText(config, $"""
            Host *
              UserKnownHostsFile {knownHosts}
              GlobalKnownHostsFile /dev/null
              StrictHostKeyChecking yes
              BatchMode yes
              IdentitiesOnly yes
              ControlPath none
              # The bastion refuses sessions (MaxSessions 0); pyzmq asks for "sleep N", so ask for
              # no session at all (-N), just the forward.
              SessionType none
              ExitOnForwardFailure yes
              ServerAliveInterval 5
              ServerAliveCountMax 2
            """);
        var bin = Directory.CreateDirectory(Path.Combine(_root, "bin")).FullName;
        var wrapper = Path.Combine(bin, "ssh");
        // SIGHUP ignored: pyzmq runs `ssh -f` under pexpect, and when ssh's first process exits
        // the kernel hangs up the pty's process group, which the forked ssh may not have left yet
        // (daemon() forks, then calls setsid): without this the tunnel sometimes dies at birth.
        File.WriteAllText(wrapper, $"#!/bin/sh\ntrap '' HUP\nexec /usr/bin/ssh -F '{config}' \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        Environment = new Dictionary<string, string?>
        {
            ["HOME"] = _root,
            ["PATH"] = bin + ":/usr/bin:/bin",
            ["PYZMQ_PARAMIKO_HOST_KEY_POLICY"] = "Reject",
            ["SSH_AUTH_SOCK"] = null,
        };
    }

    public string KeyFile { get; }

    public Dictionary<string, string?> Environment { get; }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
