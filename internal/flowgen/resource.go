package flowgen

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// resource is the fixed identity of one NSG or VNet flow log and one NIC:
// the same in every hour's blob.
type resource struct {
	id     string // NSG resourceId or VNet flowLogResourceID, upper case
	target string // VNet targetResourceID, mixed case as Azure writes it
	guid   string // NSG systemId or VNet flowLogGUID
	mac    string
	local4 string
	local6 string
	rules  []string // rules[0] denies, the others allow
	acl    []string // VNet aclID per rule
	order  []int    // rule order in a record: allow rules, then the deny rule
}

var (
	regions = []string{"WESTEUROPE", "NORTHEUROPE", "EASTUS", "EASTUS2", "WESTUS2", "UKSOUTH", "SWEDENCENTRAL"}
	tiers   = []string{"WEB", "APP", "DATA", "HUB", "SPOKE", "MGMT", "EDGE"}
	macOUIs = []string{"000D3A", "6045BD", "002248"}
)

// mix64 is the splitmix64 finaliser: spreads an index into 64 random-looking bits.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func newGUID(r *rand.Rand) string {
	const hex = "0123456789abcdef"
	a, b := r.Uint64(), r.Uint64()
	var g [36]byte
	k := 0
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			g[i] = '-'
			continue
		}
		var v uint64
		if k < 16 {
			v = a >> (4 * k)
		} else {
			v = b >> (4 * (k - 16))
		}
		g[i] = hex[v&15]
		k++
	}
	return string(g[:])
}

// newResource derives resource r, NIC m from the seed alone.
func newResource(o Options, r, m int) resource {
	// Resources share a few subscriptions, 50 to a subscription.
	nsubs := 1 + (o.Resources-1)/50
	subRng := rand.New(rand.NewPCG(o.Seed^0x510e527fade682d1, mix64(uint64(r%nsubs))))
	sub := strings.ToUpper(newGUID(subRng))
	rng := rand.New(rand.NewPCG(o.Seed^0x9b05688c2b3e6c1f, mix64(uint64(r)+1<<40)))

	tier := tiers[r%len(tiers)]
	num := strconv.Itoa(r + 1)
	if len(num) < 3 {
		num = strings.Repeat("0", 3-len(num)) + num
	}
	rg := "RG-" + tier + "-" + num
	var res resource
	res.guid = newGUID(rng)
	nsgName := tier + "-" + num + "-NSG"
	if o.Format == FormatVNetv4 {
		region := regions[r%len(regions)]
		res.id = "/SUBSCRIPTIONS/" + sub + "/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_" +
			region + "/FLOWLOGS/" + tier + "-" + num + "-VNET-FLOWLOG"
		lsub, lrg := strings.ToLower(sub), strings.ToLower(rg)
		res.target = "/subscriptions/" + lsub + "/resourceGroups/" + lrg + "/providers/Microsoft.Network/virtualNetworks/" +
			strings.ToLower(tier) + "-" + num + "-vnet"
		var acl string
		switch r % 3 {
		case 0:
			acl = "/subscriptions/" + lsub + "/resourceGroups/" + lrg + "/providers/Microsoft.Network/networkSecurityGroups/" + strings.ToLower(nsgName)
		case 1:
			acl = newGUID(rng)
		default:
			acl = "unspecified"
		}
		res.acl = make([]string, o.Rules)
		for i := range res.acl {
			res.acl[i] = acl
		}
	} else {
		res.id = "/SUBSCRIPTIONS/" + sub + "/RESOURCEGROUPS/" + rg + "/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/" + nsgName
	}

	suffix := (uint64(m)*0x9E3779B1 + uint64(r)*7919 + 0x4A1C27) & 0xFFFFFF
	hexs := strings.ToUpper(strconv.FormatUint(suffix|1<<24, 16))[1:]
	res.mac = macOUIs[r%len(macOUIs)] + hexs

	idx := uint64(r)*uint64(o.MACs) + uint64(m)
	res.local4 = "10." + strconv.FormatUint((idx/250/250)%256, 10) + "." + strconv.FormatUint((idx/250)%250, 10) + "." + strconv.FormatUint(idx%250+4, 10)
	res.local6 = "fd00:" + strconv.FormatUint((idx>>16)&0xffff, 16) + ":" + strconv.FormatUint(idx&0xffff, 16) + "::4"

	res.rules = make([]string, o.Rules)
	res.rules[0] = "DefaultRule_DenyAllInBound"
	res.rules[1] = "DefaultRule_AllowInternetOutBound"
	apps := []string{"allow-https", "allow-ssh-from-bastion", "allow-rdp-mgmt", "allow-dns", "allow-app"}
	for i := 2; i < o.Rules; i++ {
		name := apps[(i-2)%len(apps)]
		if i-2 >= len(apps) {
			name += "-" + strconv.Itoa(i)
		}
		if o.LongRuleNames {
			name = "Allow-" + strings.ToUpper(tier) + "-" + name + "-from-frontdoor-backend-pool-" + newGUID(rng)
		}
		res.rules[i] = "UserRule_" + name
	}
	res.order = make([]int, 0, o.Rules)
	for i := 1; i < o.Rules; i++ {
		res.order = append(res.order, i)
	}
	res.order = append(res.order, 0)
	return res
}
