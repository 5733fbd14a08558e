# bash completion for mailprobe(1): options, endpoint URL schemes, --checks
# names, formats and the subcommands serve and merge.
# Installed as share/bash-completion/completions/mailprobe.

_mailprobe_list()
{
	# Completes the last item of a comma-separated list out of the words in $1.
	local prefix="" item=$cur
	if [[ $cur == *,* ]]; then
		prefix=${cur%,*},
		item=${cur##*,}
	fi
	local w
	COMPREPLY=()
	for w in $1; do
		[[ $w == "$item"* ]] && COMPREPLY+=("$prefix$w")
	done
	[[ ${#COMPREPLY[@]} -eq 1 ]] && compopt -o nospace 2>/dev/null
}

_mailprobe_words()
{
	if declare -F _init_completion >/dev/null; then
		_init_completion -n : || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local schemes="smtp:// smtp+starttls:// smtps:// imap:// imap+starttls:// imaps:// pop3:// pop3+starttls:// pop3s://"
	local checks="starttls-injection starttls-response-injection auth-before-tls vrfy all"
	local formats="table json ndjson nagios junit prometheus html"
	local mechs="PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER IMAP-LOGIN USER APOP"
	local policy_opts="--policy --expect --optional --require-tls --min-tls --require-verified
		--cert-warn-days --cert-crit-days --forbid-auth-before-tls --forbid-check-failures
		--require-auth --require-login --require-dane --require-mta-sts --require-dnssec
		--warn-ms --crit-ms"
	local opts="--protocols --ports --modes --auto --discover --guess --resolver --trust-anchor
		--mx-port --https-port --connect-timeout --greeting-timeout --timeout --tls-timeout
		--deadline --concurrency --input -i --shard --allow-duplicates --per-host --rate --retry
		--cafile --capath --sni --cert-warn-days --tls-versions --enumerate-tls --proxy --direct
		--proxy-password-file --source --ipv4 --ipv6 --ehlo --user --password-file --password
		--oauth-token-file --allowed-auth --allow-plaintext-auth --insecure --checks --enum-user
		--smuggling-test --mail-from --rcpt-to --relay-test --relay-from --relay-to
		$policy_opts --format -f --compact --output -o --transcript --verbose -v --color
		--no-color --help -h --version -V"
	local sub=""
	[[ $cword -gt 1 && ( ${words[1]} == serve || ${words[1]} == merge || ${words[1]} == help ) ]] && sub=${words[1]}

	case $prev in
	--format | -f)
		COMPREPLY=($(compgen -W "$formats" -- "$cur")); return ;;
	--protocols)
		_mailprobe_list "smtp imap pop3"; return ;;
	--auto)
		COMPREPLY=($(compgen -W "smtp imap pop3" -- "$cur")); return ;;
	--modes)
		_mailprobe_list "plain starttls tls"; return ;;
	--checks)
		_mailprobe_list "$checks"; return ;;
	--allowed-auth | --require-auth)
		_mailprobe_list "$mechs"; return ;;
	--tls-versions)
		_mailprobe_list "1.1 1.2 1.3"; return ;;
	--min-tls)
		COMPREPLY=($(compgen -W "1.0 1.1 1.2 1.3" -- "$cur")); return ;;
	--expect)
		COMPREPLY=($(compgen -W "ok answer" -- "$cur")); return ;;
	--color)
		COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
	--proxy)
		COMPREPLY=($(compgen -W "socks4:// socks4a:// socks5:// socks5h:// http://" -- "$cur"))
		compopt -o nospace 2>/dev/null; return ;;
	--optional)
		COMPREPLY=($(compgen -W "$schemes" -- "$cur")); compopt -o nospace 2>/dev/null; return ;;
	--input | -i | --cafile | --trust-anchor | --password-file | --proxy-password-file | \
	--oauth-token-file | --policy | --config | --output | -o)
		COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
	--capath)
		COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
	--ports | --connect-timeout | --greeting-timeout | --timeout | --tls-timeout | --deadline | \
	--concurrency | --shard | --per-host | --rate | --retry | --cert-warn-days | --cert-crit-days | \
	--warn-ms | --crit-ms | --mx-port | --https-port | --max-probes | --listen | --sni | --source | \
	--scrape-timeout | --shutdown-grace | --max-connections-per-client | \
	--ehlo | --user | --password | --enum-user | --mail-from | --rcpt-to | --relay-from | \
	--relay-to | --discover | --resolver)
		return ;;
	esac

	case $sub in
	help)
		[[ $cword -eq 2 ]] && COMPREPLY=($(compgen -W "serve merge" -- "$cur"))
		return ;;
	serve)
		COMPREPLY=($(compgen -W "--config --listen --max-probes --scrape-timeout --shutdown-grace
			--max-connections-per-client --enable-lifecycle --help -h" -- "$cur"))
		return ;;
	merge)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--format -f --output -o --compact --transcript --verbose -v
				--color --no-color --help -h --version -V $policy_opts" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null
		fi
		return ;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [[ $cword -eq 1 ]]; then
		COMPREPLY=($(compgen -W "serve merge help $schemes" -- "$cur"))
		[[ $cur == [a-z]* && ${#COMPREPLY[@]} -gt 0 ]] && compopt -o nospace 2>/dev/null
	else
		COMPREPLY=($(compgen -W "$schemes" -- "$cur"))
		[[ ${#COMPREPLY[@]} -gt 0 ]] && compopt -o nospace 2>/dev/null
	fi
}
_mailprobe()
{
	local cur prev words cword
	_mailprobe_words
	# URLs hold ':', a word break for readline: strip what it already shows.
	declare -F __ltrim_colon_completions >/dev/null && __ltrim_colon_completions "$cur"
	return 0
}
complete -F _mailprobe mailprobe
