using System.IO.Hashing;

namespace ZmqAspire.Messaging;

/// <summary>
/// The server's memory of replies it already sent, keyed by the envelope's <c>client-id</c> and
/// <c>seq</c>: a request the client sends again after a reply timeout (the ZeroMQ Guide's Lazy
/// Pirate) is answered from here instead of being worked on twice (idempotency).
/// </summary>
/// <remarks>
/// Bounded by count (least recently used first out) and by age. A hit also needs the request
/// body to be the same (compared by XXH128; not SHA-256, whose .NET implementation needs OpenSSL, which the server image leaves out): a client that reuses an id and a sequence number
/// for a different request (a restarted process with the same id) gets fresh work, never another
/// request's reply. Thread-safe.
/// </remarks>
public sealed class ReplyCache
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string ClientId, long Sequence), LinkedListNode<Entry>> _index = [];
    private readonly LinkedList<Entry> _lru = [];
    private readonly TimeProvider _time;

    /// <summary>Creates an empty cache.</summary>
    /// <param name="capacity">The most replies kept (at least 1). Default: 10,000.</param>
    /// <param name="maxAge">How long a reply is kept; it must outlast the client's whole retry budget (timeout × (retries + 1)). Default: 5 minutes.</param>
    /// <param name="time">The clock; default the system clock.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is below 1 or <paramref name="maxAge"/> is not positive.</exception>
    public ReplyCache(int capacity = 10_000, TimeSpan? maxAge = null, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        MaxAge = maxAge ?? TimeSpan.FromMinutes(5);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(MaxAge, TimeSpan.Zero, nameof(maxAge));
        Capacity = capacity;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Gets the most replies kept.</summary>
    public int Capacity { get; }

    /// <summary>Gets how long a reply is kept after it was sent.</summary>
    public TimeSpan MaxAge { get; }

    /// <summary>Gets the number of replies held now (expired ones included until they are looked up or pushed out).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _index.Count;
            }
        }
    }

    /// <summary>Looks up the reply already sent for this request.</summary>
    /// <param name="clientId">The envelope's <c>client-id</c>.</param>
    /// <param name="sequence">The envelope's <c>seq</c>.</param>
    /// <param name="requestBody">The request body; a hit needs the same body as the first time.</param>
    /// <param name="replyBody">The reply body sent the first time.</param>
    /// <returns><see langword="true"/> when the request was served before and its reply is still held.</returns>
    public bool TryGet(string clientId, long sequence, ReadOnlySpan<byte> requestBody, out byte[] replyBody)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        var hash = Hash(requestBody);
        lock (_gate)
        {
            replyBody = [];
            if (!_index.TryGetValue((clientId, sequence), out var node))
            {
                return false;
            }

            if (_time.GetUtcNow() - node.Value.Stored > MaxAge || !node.Value.RequestHash.AsSpan().SequenceEqual(hash))
            {
                Remove(node);
                return false;
            }

            _lru.Remove(node);
            _lru.AddFirst(node);
            replyBody = node.Value.ReplyBody;
            return true;
        }
    }

    /// <summary>Keeps the reply sent for a request, pushing out the least recently used when full.</summary>
    /// <param name="clientId">The envelope's <c>client-id</c>.</param>
    /// <param name="sequence">The envelope's <c>seq</c>.</param>
    /// <param name="requestBody">The request body.</param>
    /// <param name="replyBody">The reply body sent (kept as given: do not change it afterwards).</param>
    public void Add(string clientId, long sequence, ReadOnlySpan<byte> requestBody, byte[] replyBody)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        ArgumentNullException.ThrowIfNull(replyBody);
        var entry = new Entry(clientId, sequence, Hash(requestBody), replyBody, _time.GetUtcNow());
        lock (_gate)
        {
            if (_index.TryGetValue((clientId, sequence), out var old))
            {
                Remove(old);
            }

            while (_index.Count >= Capacity)
            {
                Remove(_lru.Last!);
            }

            _index[(clientId, sequence)] = _lru.AddFirst(entry);
        }
    }

    private static byte[] Hash(ReadOnlySpan<byte> body) => XxHash128.Hash(body);

    private void Remove(LinkedListNode<Entry> node)
    {
        _lru.Remove(node);
        _index.Remove((node.Value.ClientId, node.Value.Sequence));
    }

    private sealed record Entry(string ClientId, long Sequence, byte[] RequestHash, byte[] ReplyBody, DateTimeOffset Stored);
}
