using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace ZmqAspire.Tunneling;

/// <summary>A line's marker in an OpenSSH known_hosts file (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT").</summary>
internal enum KnownHostsMarker
{
    None,
    Revoked,
    CertAuthority,
}

/// <summary>One key line of a known_hosts file.</summary>
internal sealed record KnownHostsEntry(KnownHostsMarker Marker, string[] Patterns, string KeyType, byte[] KeyBlob)
{
    public bool HasKey(byte[] blob) => KeyBlob.AsSpan().SequenceEqual(blob);

    /// <summary>
    /// OpenSSH looks a server up as <c>host</c> on port 22 and as <c>[host]:port</c> otherwise;
    /// a negated pattern that matches vetoes the line.
    /// </summary>
    public bool Matches(string host, int port)
    {
        var name = port == SshServerAddress.DefaultPort ? host : $"[{host}]:{port}";
        var matched = false;
        foreach (var pattern in Patterns)
        {
            if (pattern.StartsWith("|1|", StringComparison.Ordinal))
            {
                matched |= HashedMatches(pattern, name);
            }
            else if (pattern.StartsWith('!'))
            {
                if (GlobMatches(pattern[1..], name))
                {
                    return false;
                }
            }
            else
            {
                matched |= GlobMatches(pattern, name);
            }
        }

        return matched;
    }

    // Hashed names are |1|base64(salt)|base64(HMAC-SHA1(salt, name)) (ssh-keygen -H).
    private static bool HashedMatches(string pattern, string name)
    {
        var parts = pattern.Split('|');
        if (parts.Length != 4)
        {
            return false;
        }

        try
        {
            var salt = Convert.FromBase64String(parts[2]);
            var expected = Convert.FromBase64String(parts[3]);
            var actual = HMACSHA1.HashData(salt, Encoding.UTF8.GetBytes(name));
            return CryptographicOperations.FixedTimeEquals(actual, expected);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static bool GlobMatches(string pattern, string name)
    {
        var regex = "^" + Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$";
        return Regex.IsMatch(name, regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }
}

/// <summary>Reads OpenSSH known_hosts files; malformed lines are skipped, as ssh does.</summary>
internal static class KnownHostsFile
{
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static IReadOnlyList<KnownHostsEntry> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The known_hosts file '{path}' does not exist.", path);
        }

        var entries = new List<KnownHostsEntry>();
        foreach (var raw in File.ReadLines(path))
        {
            var fields = raw.Trim().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || fields[0].StartsWith('#'))
            {
                continue;
            }

            var marker = KnownHostsMarker.None;
            var index = 0;
            if (fields[0].StartsWith('@'))
            {
                marker = fields[0] switch
                {
                    "@revoked" => KnownHostsMarker.Revoked,
                    "@cert-authority" => KnownHostsMarker.CertAuthority,
                    _ => KnownHostsMarker.CertAuthority, // unknown markers: never trust the line
                };
                index = 1;
            }

            if (fields.Length < index + 3)
            {
                continue;
            }

            byte[] blob;
            try
            {
                blob = Convert.FromBase64String(fields[index + 2]);
            }
            catch (FormatException)
            {
                continue;
            }

            entries.Add(new KnownHostsEntry(marker, fields[index].Split(','), fields[index + 1], blob));
        }

        return entries;
    }
}
