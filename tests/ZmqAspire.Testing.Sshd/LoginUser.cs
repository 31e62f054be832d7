using System.Security.Cryptography;

namespace ZmqAspire.Testing.Sshd;

/// <summary>
/// The system account a test sshd lets log in: created once (no shell, <c>/usr/sbin/nologin</c>)
/// and kept across runs, since several test processes may use it. Needs root.
/// </summary>
public static class LoginUser
{
    private const string SecretsDirectory = "/var/lib/zmqaspire-tests";

    /// <summary>Creates the account unless it exists.</summary>
    /// <exception cref="InvalidOperationException">useradd failed.</exception>
    public static void Ensure(string name)
    {
        if (ProcessRunner.Run("/usr/bin/id", ["-u", name]).ExitCode == 0)
        {
            return;
        }

        var result = ProcessRunner.Run("/usr/sbin/useradd", ["--system", "--shell", "/usr/sbin/nologin", "--create-home", name]);
        // 9: the user exists (another run created it in between).
        if (result.ExitCode is not 0 and not 9)
        {
            throw new InvalidOperationException($"useradd {name} failed ({result.ExitCode}): {result.StandardError}");
        }
    }

    /// <summary>
    /// Gives the account its password on this machine and returns it: random, made at run time by
    /// the first test process that asks, and kept in a root-only file (0600 in a 0700 folder), so
    /// that test processes running at the same time agree on it. A password per process made the
    /// last one to start refuse the others' password logins.
    /// </summary>
    /// <exception cref="InvalidOperationException">chpasswd failed.</exception>
    public static string EnsurePassword(string name)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("LoginUser uses chpasswd: Linux only.");
        }

        var directory = Directory.CreateDirectory(SecretsDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var path = Path.Combine(directory.FullName, name + ".password");
        if (!File.Exists(path))
        {
            // Written aside and moved in without overwriting: two processes starting together
            // both end up reading the one that landed first.
            var candidate = Path.Combine(directory.FullName, $"{name}.{Environment.ProcessId}.tmp");
            File.WriteAllText(candidate, Convert.ToHexString(RandomNumberGenerator.GetBytes(18)));
            File.SetUnixFileMode(candidate, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            try
            {
                File.Move(candidate, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                File.Delete(candidate);
            }
        }

        var password = File.ReadAllText(path).Trim();
        // chpasswd reads "user:password" from stdin; the password never appears on a command line.
        ProcessRunner.RunChecked("/usr/sbin/chpasswd", [], $"{name}:{password}\n");
        return password;
    }
}
