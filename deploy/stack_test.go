package deploy

import (
	"reflect"
	"strings"
	"testing"
)

const testTemplate = `
Parameters:
  Name: {Type: String}
  Count: {Type: Number, Default: 2}
  Ratio: {Type: Number, Default: 0.5}
  Subnets: {Type: List<AWS::EC2::Subnet::Id>, Default: "a, b"}
  Cert: {Type: String, Default: ""}
Conditions:
  HasCert: !Not [!Equals [!Ref Cert, ""]]
  Both: !And [!Condition HasCert, !Equals [!Ref Count, 2]]
  Either: !Or [!Condition HasCert, !Equals [!Ref Count, 2]]
Resources:
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties:
      Name: !Sub "${Name}-${AWS::Region}-${Group.GroupId}"
      Joined: !Join [",", [!Ref Name, x, !Ref Count]]
      List: [!Ref Subnets, !Ref AWS::NoValue, kept]
      Map: {Gone: !Ref AWS::NoValue, Ratio: !Ref Ratio}
      When: !If [HasCert, yes, !Ref AWS::NoValue]
      Both: !If [Both, 1, 0]
      Either: !If [Either, 1, 0]
  Listener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Condition: HasCert
    Properties: {Group: !GetAtt Group.GroupId}
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
    Metadata: {Forwarding: !If [HasCert, !Ref Listener, !Ref Group]}
  Service:
    Type: AWS::ECS::Service
    DependsOn: Handle
  Other:
    Type: AWS::ECS::Service
    DependsOn: [Service]
  Third:
    Type: AWS::ECS::Service
    Properties: {A: !Ref Group, B: !Sub "${Other}"}
Outputs:
  URL: {Value: !Sub "http://${Group.DNSName}"}
  Only: {Condition: HasCert, Value: x}
`

func TestResolve(t *testing.T) {
	tpl, err := ParseTemplate([]byte(testTemplate))
	if err != nil {
		t.Fatal(err)
	}
	s, err := tpl.Resolve(map[string]string{"Name": "web", "AWS::Region": "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Name": "web-us-east-1-${Group.GroupId}", "Joined": "web,x,2",
		"List": []any{[]any{"a", "b"}, "kept"}, "Map": map[string]any{"Ratio": 0.5},
		"Both": float64(0), "Either": float64(1),
	}
	if got := s.Resources["Group"].Properties; !reflect.DeepEqual(got, want) {
		t.Errorf("Group.Properties:\n got %#v\nwant %#v", got, want)
	}
	if _, ok := s.Resources["Listener"]; ok || !reflect.DeepEqual(s.OfType("AWS::ECS::Service"), []string{"Other", "Service", "Third"}) {
		t.Errorf("resources: %v", s.Resources)
	}
	if s.Outputs["URL"] != "http://${Group.DNSName}" || s.Outputs["Only"] != nil || !Refers(s.Resources["Handle"].Metadata["Forwarding"], "Group", "") {
		t.Errorf("outputs %v, handle %v", s.Outputs, s.Resources["Handle"].Metadata)
	}
	if !s.DependsOn("Other", "Group") || !s.DependsOn("Service", "Group") || s.DependsOn("Group", "Service") || s.DependsOn("Service", "Other") ||
		!s.DependsOn("Third", "Handle") {
		t.Error("DependsOn: Other -> Service -> Handle -> Group, and not the other way")
	}

	s, err = tpl.Resolve(map[string]string{"Name": "web", "Cert": "arn", "Count": "3"})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Resources["Group"].Properties; p["When"] != "yes" || p["Both"] != float64(0) || p["Either"] != float64(1) || s.Outputs["Only"] != "x" ||
		!Refers(s.Resources["Listener"].Properties["Group"], "Group", "GroupId") || !Refers(s.Resources["Handle"].Metadata["Forwarding"], "Listener", "") {
		t.Errorf("with a certificate: %v %v", p, s.Resources)
	}
	if n, _ := s.Values["Count"].(int64); n != 3 {
		t.Errorf("Count %v, want the number 3", s.Values["Count"])
	}

	for _, tc := range []struct {
		template string
		params   map[string]string
		want     string
	}{
		{testTemplate, nil, "parameter Name: no value and no Default"},
		{testTemplate, map[string]string{"Name": "x", "Nmae": "y"}, "parameter Nmae: the template has no such parameter"},
		{testTemplate, map[string]string{"Name": "x", "Count": "two"}, `parameter Count: "two" is not a Number`},
		{"Resources:\n  A: {Type: X, Properties: {P: !Ref B}}\n", nil, "Ref: B is no parameter or resource"},
		{"Resources:\n  A: {Type: X, Properties: {P: !GetAtt B.Arn}}\n", nil, "Fn::GetAtt: no resource B"},
		{"Resources:\n  A: {Type: X, Properties: {P: !Sub '${B.Arn}'}}\n", nil, "Fn::Sub: no resource B"},
		{"Resources:\n  A: {Type: X, Properties: {P: !Sub 'x-${B}'}}\n", nil, "Ref: B is no parameter or resource"},
		{"Resources:\n  A: {Type: X, Properties: {P: !Base64 x}}\n", nil, "Fn::Base64 is not an intrinsic function this reader evaluates"},
		{"Resources:\n  A: {Type: X, DependsOn: B}\n", nil, "Resources.A.DependsOn: B is not a resource of the stack"},
		{"Conditions:\n  C: !Equals [a, b]\nResources:\n  B: {Type: X, Condition: C}\n  A: {Type: X, Properties: {P: !Ref B}}\n", nil, "B is not created (condition C is false)"},
		{"Resources:\n  A: {Type: X, Properties: {P: !If [C, a, b]}}\n", nil, "no condition C"},
		{"Conditions:\n  C: !Not [!Equals [a, b], x]\nResources: {}\n", nil, "Fn::Not: x is not a condition"},
	} {
		tpl, err := ParseTemplate([]byte(tc.template))
		if err == nil {
			_, err = tpl.Resolve(tc.params)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q with %v: %v, want %q", tc.template, tc.params, err, tc.want)
		}
	}
}
